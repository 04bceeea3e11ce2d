package tracee.TRC_FAILING

__rego_metadoc__ := {
    "id": "TRC-FAILING",
    "version": "0.1.0",
    "name": "Fails at run time",
    "eventName": "failing",
    "description": "Divides by zero on every DNS event",
    "tags": [],
    "properties": {},
}

tracee_selected_events[eventSelector] {
    eventSelector := {"source": "tracee", "name": "net_packet_dns"}
}

tracee_match {
    x := count(input.args) / 0
    x > 1
}
