"""A verifier of chosen quality for `loop.curation=verifier` (Feng et al. 2025, "Beyond Model Collapse: Scaling Up
with Synthesized Data Requires Verification"; Yi et al. 2025): a classifier trained on `loop.verifier_n_labelled`
labelled real images, so its accuracy, and what curating by it is worth, is a setting a sweep can vary, from a
verifier near chance (a handful of labels) to one near the reference classifier (`loop.curation=confidence` is the
reference classifier itself as the verifier).

The network is `bench.features.networks.SmallCNN` sized for the data, trained from the run's seed for
`VERIFIER_STEPS` Adam steps (by steps, not epochs, so its cost does not grow with n_labelled) on a seeded draw of
labelled images from the real train pool; its accuracy is measured on the held-out real images the floor is
scored on (test images: never ones it trained on) and recorded in every generation's curation record.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bench.engine.evaluation import Evaluator
from bench.features.networks import SmallCNN
from bench.seeding import derive_seed, generator

VERIFIER_STEPS = 400
VERIFIER_BATCH = 64
VERIFIER_LR = 3e-3
VERIFIER_WIDTHS = (16, 32, 32)


@dataclass
class Verifier:
    network: SmallCNN
    n_labelled: int
    accuracy: float  # on the held-out real images of the floor set

    @torch.inference_mode()
    def confidence(self, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """(top-class probability, predicted class) per uint8 image."""
        self.network.eval()
        probs = torch.cat([torch.softmax(self.network(b).double(), dim=1) for b in images.split(batch_size)])
        top = probs.max(dim=1)
        return top.values, top.indices

    @property
    def info(self) -> dict:
        return {"n_labelled": self.n_labelled, "accuracy": self.accuracy, "steps": VERIFIER_STEPS}


def train_verifier(evaluator: Evaluator, n_labelled: int, *, seed: int) -> Verifier:
    """The verifier trained on `n_labelled` labelled images of the real train set (drawn by `seed`; the clean set,
    not a contaminated pool, whose replaced images have no true labels)."""
    data = evaluator.dataset
    pick = torch.randperm(len(data.train_images), generator=generator(seed, "verifier", "labelled"))[:n_labelled]
    images, labels = data.train_images[pick], data.train_labels[pick].long()
    torch.manual_seed(derive_seed(seed, "verifier", "init"))
    net = SmallCNN(
        input_shape=tuple(data.image_shape), num_classes=int(data.num_classes), widths=VERIFIER_WIDTHS, dropout=0.3
    )
    opt = torch.optim.Adam(net.parameters(), lr=VERIFIER_LR)
    order = generator(seed, "verifier", "batches")
    net.train()
    for _ in range(VERIFIER_STEPS):
        idx = torch.randint(0, n_labelled, (min(VERIFIER_BATCH, n_labelled),), generator=order)
        loss = F.cross_entropy(net(images[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    held_out = evaluator.split.floor
    verifier = Verifier(net, n_labelled, 0.0)
    _, predicted = verifier.confidence(data.test_images[held_out])
    verifier.accuracy = float((predicted == data.test_labels[held_out].long()).double().mean())
    return verifier
