"""NATS JetStream: connecting (``connection``), stream and consumer topology, the long-poll pull feed
(``pull``) and message dispositions with dead letters (``delivery``). Tools never import this package."""
