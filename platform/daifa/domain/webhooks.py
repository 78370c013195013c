"""A webhook delivery: one event posted to one endpoint, tried until it is taken or given up on."""

from __future__ import annotations

from enum import StrEnum

from daifa.domain.workflow import Workflow


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # given up: too many attempts, or the endpoint was disabled


class DeliveryEvent(StrEnum):
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"


DELIVERY: Workflow[DeliveryStatus, DeliveryEvent] = Workflow(
    name="webhook delivery",
    initial=DeliveryStatus.PENDING,
    moves={
        (DeliveryStatus.PENDING, DeliveryEvent.DELIVERED): DeliveryStatus.DELIVERED,
        (DeliveryStatus.PENDING, DeliveryEvent.GIVEN_UP): DeliveryStatus.FAILED,
    },
)
