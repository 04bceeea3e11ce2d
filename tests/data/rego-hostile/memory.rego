package tracee.TRC_MEMORY

__rego_metadoc__ := {
    "id": "TRC-MEMORY",
    "version": "0.1.0",
    "name": "Takes too much memory",
    "eventName": "memory_hog",
    "description": "Builds a set of 50 million numbers on every DNS event",
    "tags": [],
    "properties": {},
}

tracee_selected_events[eventSelector] {
    eventSelector := {"source": "tracee", "name": "net_packet_dns"}
}

tracee_match {
    numbers := {n | n := numbers.range(1, 50000000)[_]}
    count(numbers) > 0
}
