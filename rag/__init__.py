"""Core library: parsing, chunking, embedding, storing, retrieving, answering. Knows nothing of HTTP."""
