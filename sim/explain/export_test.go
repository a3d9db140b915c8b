package explain

// Narrate without its memory.
var NarrateAfresh = narrate
