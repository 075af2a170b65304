"""Errors that reach the user: each names the input and what is wrong with it."""


class BrushworkError(Exception):
    """Base class: a problem with the user's request, worded for the user."""


class ImageError(BrushworkError):
    """An image (content, style, init) is missing, unreadable, corrupt, too large or too small."""


class MaskError(BrushworkError):
    """A mask is unreadable or selects nothing."""


class WeightsError(BrushworkError):
    """A weights file is missing, corrupt or made for another architecture."""


class RequestError(BrushworkError):
    """A parameter is out of range or unknown (method, colour mode, device...)."""


class ResultError(BrushworkError):
    """The computation produced an unusable result (NaN or infinite pixels)."""


class Cancelled(BrushworkError):
    """The caller's cancel callback asked to stop."""
