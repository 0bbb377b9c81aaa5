import { describeKeyedCount } from "./streaming/keyed-count.ts";
import { describeWordCount } from "./streaming/word-count.ts";

describeKeyedCount("etcd");
describeWordCount("etcd");
