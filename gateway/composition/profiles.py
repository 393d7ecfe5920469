"""Profiles through the gateway: the customers service owns them."""

from gateway.clients.customers import CustomersClient
from gateway.schemas.profiles import ProfilePublic
from services.runtime.problems import Problem


async def find_profile(
    customers: CustomersClient, customer_id: str, profile_id: str
) -> ProfilePublic:
    """The profile as it is now (the audit's `before`); 404 if the account has no such one."""
    for profile in (await customers.list_profiles(customer_id)).items:
        if profile.id == profile_id:
            return profile
    raise Problem(404, "Profile not found", f"no profile {profile_id} for this customer")
