"""Records you can prove: run records, the hash chain, approvals, reruns, crash recovery and
retention."""
