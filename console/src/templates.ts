// Flows to start from. Action ids are labels: the server turns them into UUIDs and rewrites every reference.

export interface Template {
  key: string;
  title: string;
  summary: string;
  doc: object;
}

export const templates: Template[] = [
  {
    key: "ivr",
    title: "IVR menu",
    summary: "Greets the caller, reads one digit: 1 sales, 2 support; asks again twice, then says goodbye.",
    doc: {
      name: "IVR menu",
      detail: "Press 1 for sales, 2 for support",
      actions: [
        { id: "answer", type: "answer" },
        { id: "menu", type: "talk", option: { text: "Welcome. Press 1 for sales, or 2 for support.", language: "en-US" } },
        { id: "ask", type: "digits_receive", option: { duration: 5000, length: 1 } },
        { id: "choose", type: "branch", option: { variable: "voipbin.call.digits", target_ids: { "1": "sales", "2": "support" }, default_target_id: "again" } },
        { id: "again", type: "goto", option: { target_id: "menu", loop_count: 2 } },
        { id: "goodbye", type: "talk", option: { text: "Sorry, we did not get that. Goodbye.", language: "en-US" }, next_id: "end" },
        { id: "sales", type: "talk", option: { text: "Connecting you to sales.", language: "en-US" }, next_id: "end" },
        { id: "support", type: "talk", option: { text: "Connecting you to support.", language: "en-US" }, next_id: "end" },
        { id: "end", type: "hangup" },
      ],
    },
  },
  {
    key: "hours",
    title: "Business hours",
    summary: "Open Monday to Friday, 9:00 to 17:00 UTC; otherwise tells the caller the hours.",
    doc: {
      name: "Business hours",
      detail: "Open Monday to Friday, 9:00 to 17:00 UTC",
      actions: [
        { id: "answer", type: "answer" },
        { id: "from-nine", type: "condition_datetime", option: { condition: ">=", hour: 9, minute: 0, weekdays: [1, 2, 3, 4, 5], false_target_id: "closed" } },
        { id: "before-five", type: "condition_datetime", option: { condition: "<", hour: 17, minute: 0, false_target_id: "closed" } },
        { id: "open", type: "talk", option: { text: "Thank you for calling. Please hold.", language: "en-US" } },
        { id: "hold", type: "play", option: { stream_urls: ["https://example.com/hold-music.wav"] }, next_id: "end" },
        { id: "closed", type: "talk", option: { text: "We are closed. Our hours are 9 to 5, Monday to Friday.", language: "en-US" } },
        { id: "end", type: "hangup" },
      ],
    },
  },
  {
    key: "voicemail",
    title: "Voicemail",
    summary: "Asks for a message, records it until the caller presses # (or two minutes), thanks them.",
    doc: {
      name: "Voicemail",
      detail: "Record a message",
      actions: [
        { id: "answer", type: "answer" },
        { id: "prompt", type: "talk", option: { text: "Please leave a message after the beep. Press hash when you are done.", language: "en-US" } },
        { id: "record", type: "recording_start", option: { format: "wav", end_of_silence: 5, end_of_key: "#", duration: 120, beep_start: true } },
        { id: "wait", type: "digits_receive", option: { duration: 120000, key: "#" } },
        { id: "stop", type: "recording_stop" },
        { id: "thanks", type: "talk", option: { text: "Thank you. Goodbye.", language: "en-US" } },
        { id: "end", type: "hangup" },
      ],
    },
  },
];
