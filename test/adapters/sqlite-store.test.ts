// Runs the Store conformance suite against the embedded SQLite adapter on a real file.
import { join } from "node:path";
import { createSqliteStore } from "../../src/adapters/store/sqlite/sqlite-store.ts";
import { storeConformance } from "../conformance/store.conformance.ts";
import { tempDir } from "../helpers.ts";

storeConformance("sqlite (file, WAL)", async () => {
  const dir = tempDir();
  const filename = join(dir.path, "nested", "factory.db");
  const sut = {
    store: await createSqliteStore({ filename }),
    async reopen() {
      await sut.store.close();
      return createSqliteStore({ filename });
    },
    async cleanup() {
      await sut.store.close();
      dir.cleanup();
    },
  };
  return sut;
});
