"""Files a reader opens beside the one the user named (an ENVI header's data file, a ripple
header's ``.raw``, a TIA ``.emi``'s ``.ser`` files): they must really sit in that folder, so a
link planted there cannot make chemmap read (and copy into its outputs) a file from elsewhere."""

from __future__ import annotations

from pathlib import Path

from chemmap.core.exceptions import FileFormatError

__all__ = ["companion_file"]


def companion_file(named: Path, companion: Path, *, what: str, option: str) -> Path:
    """``companion`` with every link resolved; refused when its real path is not in the folder
    of ``named`` (the file the user gave).

    Parameters
    ----------
    named : Path
        The file the user named.
    companion : Path
        A file beside it that the reader found by itself.
    what : str
        What the companion is, for the message (``"data file"``).
    option : str
        How the user names the companion explicitly, which lifts the rule (``"data_file="``).

    Raises
    ------
    FileFormatError
        The companion is a link that leads out of the folder.
    """
    folder = Path(named).parent.resolve()
    real = Path(companion).resolve()
    if real.parent != folder:
        raise FileFormatError(
            f"{Path(companion).name}, the {what} beside {Path(named).name}, is a link to {real}, outside the folder "
            f"{folder}. chemmap reads only the files that really sit beside the one you name, so that a link "
            f"cannot make it read a file from elsewhere. To fix this, name the file yourself ({option}) or copy "
            "it beside the one you name."
        )
    return real
