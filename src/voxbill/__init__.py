"""voxbill: real-time rating, charging and balance control for voice and SMS operators."""

__version__ = "0.1.0"
