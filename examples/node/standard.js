// One process, as the article's standard.js.
import { start } from "./app.js";

start();
