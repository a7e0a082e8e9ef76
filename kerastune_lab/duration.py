"""Seconds in words, as progress lines and reports print them."""


def duration(seconds):
    """'45 s', '3 min 20 s', '1 h 05 min'.

    Example:

    >>> duration(44.6), duration(200), duration(3900)
    ('45 s', '3 min 20 s', '1 h 05 min')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
