"""Speed and memory benchmarks that print side-by-side ratios."""
