import { describeChaosSuite } from "./chaos/suite.ts";

describeChaosSuite("zookeeper");
