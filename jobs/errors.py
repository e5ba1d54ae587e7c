"""Errors of the batch jobs: one root, split into worth-retrying and never-succeeds."""

from __future__ import annotations


class JobsError(Exception):
    """Root of every error the batch jobs raise; the message is one line for users."""


class TransientJobError(JobsError):
    """Worth retrying: a service the job needs (Kafka) did not answer."""


class TopicMissing(JobsError):
    """A source topic does not exist: apply the topic registry first."""


class IdentityNotConverged(JobsError):
    """Label propagation did not settle within the configured number of rounds."""


class UnknownCustomer(JobsError):
    """No identifier or timeline row carries this customer_id."""
