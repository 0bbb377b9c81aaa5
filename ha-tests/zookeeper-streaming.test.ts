import { describeKeyedCount } from "./streaming/keyed-count.ts";

describeKeyedCount("zookeeper");
