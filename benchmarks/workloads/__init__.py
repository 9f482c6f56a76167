"""Real workloads shared by the demo, the benchmarks and the coverage audit."""
