"""The conversation-memory layer: DynamoDB (durable), Redis (hot cache), the breaker and the outbox.

``history`` holds the read path and ``writer`` the write path, one class per
variant, so the seed design and the hardened one can be compared line by line.
"""
