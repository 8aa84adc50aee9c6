export {MODELS_DIR, layerHeader, layerSize, layerTrailer} from './tar.js'
