// Lists every ConfigOption a Flink distribution defines, with its deprecated and fallback keys.
// Used by generate.py to find the configuration keys Flink 2.x removed. Not shipped in the collection.
import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

public class ListConfigOptions {
    public static void main(String[] args) throws Exception {
        List<File> jars = new ArrayList<>();
        for (String dir : args) {
            collect(new File(dir), jars);
        }
        URL[] urls = new URL[jars.size()];
        for (int i = 0; i < jars.size(); i++) urls[i] = jars.get(i).toURI().toURL();
        URLClassLoader loader = new URLClassLoader(urls, ListConfigOptions.class.getClassLoader());
        Class<?> optionClass = Class.forName("org.apache.flink.configuration.ConfigOption", false, loader);
        TreeSet<String> out = new TreeSet<>();
        for (File jar : jars) {
            try (JarFile jf = new JarFile(jar)) {
                Enumeration<JarEntry> entries = jf.entries();
                while (entries.hasMoreElements()) {
                    String name = entries.nextElement().getName();
                    if (!name.endsWith(".class") || name.contains("$") || !name.startsWith("org/apache/flink/")) continue;
                    String simple = name.substring(name.lastIndexOf('/') + 1, name.length() - 6);
                    if (!(simple.endsWith("Options") || simple.endsWith("Option") || simple.contains("Config"))) continue;
                    String cls = name.substring(0, name.length() - 6).replace('/', '.');
                    try {
                        Class<?> c = Class.forName(cls, true, loader);
                        for (Field f : c.getDeclaredFields()) {
                            if (!Modifier.isStatic(f.getModifiers()) || !optionClass.isAssignableFrom(f.getType())) continue;
                            f.setAccessible(true);
                            Object opt = f.get(null);
                            if (opt == null) continue;
                            String key = (String) optionClass.getMethod("key").invoke(opt);
                            out.add(key + "\tprimary\t" + key);
                            Method fallbacks = optionClass.getMethod("fallbackKeys");
                            for (Object fk : (Iterable<?>) fallbacks.invoke(opt)) {
                                String fkey = (String) fk.getClass().getMethod("getKey").invoke(fk);
                                boolean dep = (Boolean) fk.getClass().getMethod("isDeprecated").invoke(fk);
                                out.add(fkey + "\t" + (dep ? "deprecated" : "fallback") + "\t" + key);
                            }
                        }
                    } catch (Throwable t) {
                        // A class that cannot load without optional dependencies defines nothing we can read.
                    }
                }
            }
        }
        for (String line : out) System.out.println(line);
    }

    private static void collect(File f, List<File> jars) {
        if (f.isDirectory()) {
            File[] children = f.listFiles();
            if (children != null) for (File c : children) collect(c, jars);
        } else if (f.getName().endsWith(".jar")) {
            jars.add(f);
        }
    }
}
