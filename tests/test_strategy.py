"""Data-parallel training inside one run: trainer.strategy=ddp_spawn trains in worker processes and hands the
weights back, so this process samples and scores once. Checked on 2 CPU processes (gloo); a GPU node runs the
same config with trainer.accelerator=gpu trainer.devices=N."""

import pytest
import torch

from bench.config import compose
from bench.engine.train import check_trainer, fit
from bench.errors import BenchError
from bench.models.factory import build_model


def test_a_strategy_that_relaunches_the_command_is_refused_in_one_line():
    cfg = compose(["trainer.strategy=ddp"])
    with pytest.raises(BenchError) as e:
        check_trainer(cfg.trainer)
    assert str(e.value).startswith("trainer.strategy='ddp' is not supported; allowed: auto, ddp_spawn")
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_ddp_spawn_on_two_processes_trains_and_returns_the_weights(mnist):
    cfg = compose(
        [
            "trainer.devices=2",
            "trainer.strategy=ddp_spawn",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            "trainer.logger=null",
        ]
    )
    images = mnist.train_images[:256]
    torch.manual_seed(0)
    model = build_model(cfg.model, image_shape=tuple(images.shape[1:]), num_classes=10, class_shares=[0.1] * 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    device = fit(model, images, trainer_cfg=cfg.trainer, seed=0)
    assert device == torch.device("cpu")
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "the weights trained in the workers are back in this process's model"
    samples = model.sample(8, generator=torch.Generator().manual_seed(0))
    assert samples.dtype == torch.uint8 and samples.shape == (8, *images.shape[1:])
