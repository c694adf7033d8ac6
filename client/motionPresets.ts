/** The demo page's motion-editing gallery: expression presets (ramped) and head-pose templates. */

type Message = Record<string, unknown>;

export const EXPRESSION_PRESETS: Record<string, Message> = {
  neutral: { smile: 0, browRaise: 0, eyeWiden: 0, jaw: 0 },
  smile: { smile: 0.8, browRaise: 0.1, eyeWiden: -0.2, jaw: 0 },
  surprised: { smile: 0, browRaise: 0.9, eyeWiden: 0.8, jaw: 0.25 },
  skeptical: { smile: 0.2, browRaise: -0.3, eyeWiden: -0.5, jaw: 0 },
};

/** Keyframes [ms, yaw, pitch, roll] of a short gesture. */
const gesture = (points: number[][]): Message => ({ type: 'poseTemplate', loop: false, keyframes: points });

export const POSE_PRESETS: Record<string, () => Promise<Message>> = {
  off: () => Promise.resolve({ type: 'poseTemplate', reset: true }),
  nod: () => Promise.resolve(gesture([[0, 0, 0, 0], [250, 0, 8, 0], [500, 0, -2, 0], [750, 0, 6, 0], [1100, 0, 0, 0]])),
  shake: () => Promise.resolve(gesture([[0, 0, 0, 0], [250, -12, 0, 0], [550, 12, 0, 0], [850, -8, 0, 0], [1150, 0, 0, 0]])),
  tilt: () => Promise.resolve(gesture([[0, 0, 0, 0], [400, 3, 0, 10], [2000, 3, 0, 10], [2400, 0, 0, 0]])),
  // Templates taken from real video with `npm run pose-template`, looped under the speech.
  'look around': async () => (await (await fetch('/poses/look-around.json')).json()) as Message,
  speaker: async () => (await (await fetch('/poses/speaker.json')).json()) as Message,
};
