"""The plant: scenario spec -> SimPy model -> records -> KPIs."""
