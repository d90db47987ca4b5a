"""Generative models. Each is one file plus conf/model/<name>.yaml whose `_target_` names its class."""
