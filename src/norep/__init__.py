"""norep: No One REPresentation, overlapping features of training methods, reproduced."""

from norep.errors import NorepError
from norep.store import Store

__all__ = ["NorepError", "Store"]
__version__ = "0.1.0"
