"""Erasure of a customer: personal data, account and profiles gone, a tombstone kept."""
