// Baseline contender: etcd3's own Election class, used as its README shows, with nothing added. Prints one
// JSON line per event on stdout, like `vigil elect`: campaigning, elected, error, resigned. SIGTERM resigns
// (deletes the campaign key) and exits 0, so it also serves as the graceful-handover baseline.
//
//   node --import tsx bench/contenders/etcd3-election.ts --endpoints H:P[,…] --election E --name N --ttl 2
import { parseArgs } from "node:util";
import { Etcd3 } from "etcd3";

const { values } = parseArgs({
  options: {
    endpoints: { type: "string" },
    election: { type: "string" },
    name: { type: "string" },
    ttl: { type: "string", default: "2" },
  },
});
if (!values.endpoints || !values.election || !values.name) {
  process.stderr.write("usage: etcd3-election.ts --endpoints H:P[,…] --election E --name N [--ttl S]\n");
  process.exit(2);
}
const name = values.name;
const emit = (event: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(JSON.stringify({ event, name, ...extra }) + "\n");
};

const client = new Etcd3({ hosts: values.endpoints.split(",").map((h) => `http://${h}`) });
const campaign = client.election(values.election, Number(values.ttl)).campaign(name);
campaign.on("elected", () => emit("elected"));
// The campaign is over after an error (etcd3's contract); a real user would start a new one. The benchmark
// only records it: a baseline that errors is a finding, not something to paper over.
campaign.on("error", (e: Error) => emit("error", { message: e.message }));
emit("campaigning");

const stop = async (): Promise<void> => {
  try {
    await campaign.resign();
    emit("resigned");
  } catch (e: unknown) {
    emit("error", { message: `resign: ${(e as Error).message}` });
  }
  client.close();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
