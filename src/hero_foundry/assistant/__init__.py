"""The AI rules assistant: answers a rules question from SRD passages, for a character or not."""
