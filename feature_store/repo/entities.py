"""Entities: who or what the features describe."""

from feast import Entity, ValueType

from schemas.features import CHANNEL_ENTITY_KEY, CUSTOMER_ENTITY_KEY

customer = Entity(
    name="customer",
    join_keys=[CUSTOMER_ENTITY_KEY],
    value_type=ValueType.STRING,
    description=(
        "A customer as identity resolution names them: customer_id = 'cus_' + 20 hex characters "
        "(schemas/identity.py), the same in the stream and in the lake."
    ),
    tags={"team": "cx-data", "domain": "customer", "pii": "pseudonymous-id"},
    owner="cx-data",
)

channel = Entity(
    name="channel",
    join_keys=[CHANNEL_ENTITY_KEY],
    value_type=ValueType.STRING,
    description="A contact channel: phone, email, social, app or chat.",
    tags={"team": "cx-data", "domain": "channel"},
    owner="cx-data",
)
