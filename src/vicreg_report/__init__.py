"""Reproducible bilingual report of a VICReg study on CIFAR-10."""

__version__ = "0.1.0"
