"""The fault campaign (`make chaos`, docs/reliability.md): a steady workload on the local cluster
while faults are injected on a seeded schedule, then a checker that reads everything back."""
