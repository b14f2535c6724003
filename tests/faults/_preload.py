"""What the fork server imports once (tests/faults/zygote.py): torch, the CLI and the modules every stage loads."""

import torch  # noqa: F401
import torch._dynamo  # noqa: F401  (the optimizer imports it: seconds, once)

try:
    import accelerate  # noqa: F401
except ImportError:
    pass

import unigap.audit.runner  # noqa: F401
import unigap.cli  # noqa: F401
import unigap.curation.dataset  # noqa: F401
import unigap.models.tiny.backend  # noqa: F401
import unigap.pipeline.run  # noqa: F401
import unigap.training.improve  # noqa: F401
import unigap.training.pretrain  # noqa: F401

unigap.cli.get_app()

from unigap.world.constants import SUBTASKS  # noqa: E402
from unigap.world.splits import eval_texts, splits  # noqa: E402

for _s in SUBTASKS:  # the prompt splits are cached per process: draw them once, in the server
    splits(_s, 0)
eval_texts(0)
