package tracee.TRC_ANSWERS

__rego_metadoc__ := {
    "id": "TRC-ANSWERS",
    "version": "0.1.0",
    "name": "DNS answers",
    "eventName": "dns_answer_seen",
    "description": "Fires on every DNS event: the signatures beside the hostile ones go on",
    "tags": [],
    "properties": {},
}

tracee_selected_events[eventSelector] {
    eventSelector := {"source": "tracee", "name": "net_packet_dns"}
}

tracee_match {
    input.eventName == "net_packet_dns"
}
