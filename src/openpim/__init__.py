"""OpenPIM: self-hosted Privileged Identity Management."""

__version__ = "0.1.0"
