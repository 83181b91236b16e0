// What a gateway can honestly say about connected devices: MQTT clients on its embedded broker, and distinct device ids seen in uplink topics recently.
import { UPLINK_TOPIC_PATTERN } from '../ingest/mqtt-ingest.js';

export interface DeviceActivity {
  /** MQTT clients connected to the embedded broker right now (any client, not only dongles); null with an external broker. */
  brokerClients: number | null;
  /**
   * Distinct device ids in the topics of uplinks received over the last `windowSeconds` (as the
   * publisher named them: the topic is not authenticated, the message signature is); null when the
   * gateway does not see topics.
   */
  recentDevices: number | null;
  windowSeconds: number;
}

export const UNKNOWN_DEVICE_ACTIVITY: DeviceActivity = { brokerClients: null, recentDevices: null, windowSeconds: 0 };

/** Last-seen time per device id, pruned on read so memory follows the number of active devices. */
export class RecentDevices {
  private readonly lastSeen = new Map<string, number>();

  constructor(readonly windowMs = 5 * 60_000, private readonly now: () => number = Date.now) {}

  /** Notes the device of an uplink topic (`carchain/v1/devices/<id>/uplink`); other topics are ignored. */
  sawTopic(topic: string): void {
    if (!UPLINK_TOPIC_PATTERN.test(topic)) return;
    const id = topic.split('/')[3]!;
    // Re-inserting keeps the map in last-seen order, so pruning stops at the first recent entry.
    this.lastSeen.delete(id);
    this.lastSeen.set(id, this.now());
  }

  count(): number {
    const horizon = this.now() - this.windowMs;
    for (const [id, at] of this.lastSeen) {
      if (at >= horizon) break;
      this.lastSeen.delete(id);
    }
    return this.lastSeen.size;
  }
}
