"""The 24 chromosome classes and the label codings found in the wild.

Internally a class is an index 0..23 in karyotype order: 0..21 = autosomes 1..22, 22 = X, 23 = Y.
"""

from sras_keras.configs.convert import LABEL_CODINGS  # how folder or file labels map to class indices
from sras_keras.core.errors import SrasError

CLASS_NAMES = tuple([str(i) for i in range(1, 23)] + ["X", "Y"])
NUM_CLASSES = len(CLASS_NAMES)
X_INDEX = CLASS_NAMES.index("X")
Y_INDEX = CLASS_NAMES.index("Y")


def parse_label(text: str, coding: str = "standard") -> int:
    """Class index for a label written as in a folder or file name; raises SrasError if unknown."""
    if coding not in LABEL_CODINGS:
        raise SrasError(f"unknown label coding {coding!r}; choose one of {', '.join(LABEL_CODINGS)}")
    key = text.strip().upper()
    if key in ("X", "Y"):
        return CLASS_NAMES.index(key)
    if key.isdigit():
        number = int(key)
        if 1 <= number <= 22:
            return number - 1
        if number == 23:
            return X_INDEX
        if number == 24 and coding == "standard":
            return Y_INDEX
        if number == 0 and coding == "sras":
            return Y_INDEX
    raise SrasError(f"{text!r} is not a chromosome label under the {coding!r} coding")
