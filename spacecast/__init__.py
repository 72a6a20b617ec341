"""spacecast: restream live X Spaces to RTMP and record them."""

__version__ = "0.1.0"
