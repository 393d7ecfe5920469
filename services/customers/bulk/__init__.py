"""Bulk add: jobs of numbered customers on one sale, worked in the background."""
