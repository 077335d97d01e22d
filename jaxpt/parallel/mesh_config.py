"""The `mesh` section shared by every training config (no jax import: config modules stay light)."""
import ml_collections


def mesh_config() -> ml_collections.ConfigDict:
    """enabled=False runs on one device; data/fsdp/tensor sizes (one may be -1); rules from RULE_SETS."""
    c = ml_collections.ConfigDict()
    c.enabled = False
    c.data = -1
    c.fsdp = 1
    c.tensor = 1
    c.rules = "default"
    return c
