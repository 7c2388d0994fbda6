"""memstudio: a desktop studio for seeing and editing what makes an image memorable."""

__version__ = "0.1.0"
