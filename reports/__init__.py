"""Results -> figures and documents. Knows no simpy, no torch."""
