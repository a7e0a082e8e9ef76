"""Model families: each module declares one `[model] name` completely."""

from kerastune_lab.families.model_family import ModelFamily
from kerastune_lab.families.registry import FAMILIES

__all__ = ["FAMILIES", "ModelFamily"]
