"""Checked contact fields for the APIs that edit personal data: E.164 phone numbers and ISO 3166-1
alpha-2 country codes. (Events keep CustomerInfo's plain strings: webshops send what they have.)"""

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from services.contracts.customers import CustomerInfo

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Separators people type inside a number; dropped before the check.
_SEPARATORS = re.compile(r"[ ()./-]")

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """.split()  # noqa: SIM905 - a table of codes reads better than 249 quoted strings
)


def _e164(value: str) -> str:
    compact = _SEPARATORS.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise ValueError("an E.164 number: + and country code, then 6 to 14 digits")
    return compact


def _country(value: str) -> str:
    code = value.upper()
    if code not in ISO_COUNTRIES:
        raise ValueError("an ISO 3166-1 alpha-2 country code, e.g. DE")
    return code


# Stored in the compact E.164 form ("+420 777-000 111" -> "+420777000111"), so a prefix search
# on the digits finds it however it was typed.
E164Phone = Annotated[str, Field(max_length=32, examples=["+420777000111"]), AfterValidator(_e164)]
CountryCode = Annotated[
    str, Field(min_length=2, max_length=2, examples=["CZ"]), AfterValidator(_country)
]


class CustomerInfoPatch(BaseModel):
    """A partial edit of CustomerInfo: only the fields sent change; null clears an optional one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, max_length=20)
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: E164Phone | None = None
    mobile: E164Phone | None = None
    street: str | None = Field(default=None, max_length=200)
    zip: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    country: CountryCode | None = None
    comments: str | None = Field(default=None, max_length=2000)
    mapping_id: str | None = Field(default=None, max_length=100)

    @field_validator("first_name", "last_name")
    @classmethod
    def _names_stay(cls, value: str | None) -> str:
        # Runs only for fields that were sent: an explicit null would remove a required name.
        if value is None:
            raise ValueError("cannot be removed")
        return value

    def changes(self) -> dict[str, str | None]:
        """The fields sent, with their new values."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class CheckedCustomerInfo(CustomerInfo):
    """CustomerInfo as an operator enters it through the API (adding a customer): phones in
    E.164, the country an ISO code. The e-mail keeps the foundation's plain check here, so
    existing clients' addresses are stored exactly as sent."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    phone: E164Phone | None = None
    mobile: E164Phone | None = None
    country: CountryCode | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_plain_info(cls, data: Any) -> Any:
        # Code that builds a plain CustomerInfo (bulk add, tests) gets it checked field by field.
        if isinstance(data, CustomerInfo) and not isinstance(data, cls):
            return data.model_dump()
        return data
