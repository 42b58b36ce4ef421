package main

// knownDice are the dice the frontend offers, sorted. Stage 2 has no
// die-service, so the frontend knows them itself (stage 3 asks the
// die-service for the list). The list fills the page's dropdown, and bounds
// the die_type label: a die that is not in it is counted as "unknown".
var knownDice = []string{"fair", "risky"}
