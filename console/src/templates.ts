import hours from "./templates/hours.json";
import ivr from "./templates/ivr.json";
import voicemail from "./templates/voicemail.json";

// Flows to start from. Action ids are labels: the server turns them into UUIDs and rewrites every reference.
// Each is a JSON file in templates/: a server test checks that each is valid, and the terminal test of
// `flowbin call` (e2e) runs the IVR menu.

export interface Template {
  key: string;
  title: string;
  summary: string;
  doc: object;
}

export const templates: Template[] = [
  { key: "ivr", title: "IVR menu", summary: "Greets the caller, reads one digit: 1 sales, 2 support; asks again twice, then says goodbye.", doc: ivr },
  { key: "hours", title: "Business hours", summary: "Open Monday to Friday, 9:00 to 17:00 UTC; otherwise tells the caller the hours.", doc: hours },
  { key: "voicemail", title: "Voicemail", summary: "Asks for a message, records it until the caller presses # (or two minutes), thanks them.", doc: voicemail },
];
