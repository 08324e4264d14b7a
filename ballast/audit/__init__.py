"""Records you can prove: the hash chain, approvals, reruns and retention."""
