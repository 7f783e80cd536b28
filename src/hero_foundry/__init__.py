"""The Hero Foundry: D&D 5e (SRD 5.1) character creation and levelling, observable end to end."""

__version__ = "0.1.0"
