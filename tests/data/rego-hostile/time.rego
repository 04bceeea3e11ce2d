package tracee.TRC_TIME

__rego_metadoc__ := {
    "id": "TRC-TIME",
    "version": "0.1.0",
    "name": "Takes too long",
    "eventName": "time_hog",
    "description": "Walks 25 million pairs of numbers on every DNS event, keeping none",
    "tags": [],
    "properties": {},
}

tracee_selected_events[eventSelector] {
    eventSelector := {"source": "tracee", "name": "net_packet_dns"}
}

tracee_match {
    some i, j
    numbers.range(1, 5000)[i]
    numbers.range(1, 5000)[j]
    i * j == -1
}
