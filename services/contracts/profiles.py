"""The field rules of a viewer profile, the same for the operator's API and the apps' events."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

# Avatars are identifiers of pictures the apps ship, not URLs: a URL would let anyone who edits
# a profile make every device of the household fetch an arbitrary address.
Avatar = Literal[
    "default", "bear", "cat", "dog", "fox", "owl", "panda", "penguin", "robot", "rocket", "star"
]

ProfileName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]

PIN_PATTERN = r"^[0-9]{4,8}$"
ProfilePin = Annotated[str, Field(pattern=PIN_PATTERN, description="4 to 8 digits.")]
